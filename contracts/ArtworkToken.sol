// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {ERC721URIStorage} from "@openzeppelin/contracts/token/ERC721/extensions/ERC721URIStorage.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

/// @title Tokenized marketplace artworks: Transfer events give ownership to the indexer.
contract ArtworkToken is ERC721URIStorage, Ownable {
    constructor(address platform) ERC721("KalaKrut Artwork", "KKART") Ownable(platform) {}

    /// @notice The platform mints the token of a marketplace item (token id = item UUID as uint256).
    function mint(address to, uint256 tokenId, string calldata uri) external onlyOwner {
        _safeMint(to, tokenId);
        _setTokenURI(tokenId, uri);
    }
}
